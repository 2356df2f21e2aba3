"""The Android phone (SMSGate and CallGate) as the link: the apps' API in our terms, the call book
and the phone's call log (pure), the journal, the webhook receiver, adb and the link (I/O)."""
