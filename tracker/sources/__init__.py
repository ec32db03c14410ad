"""Where raw messages come from: IMAP (``imap``) and local archives (``local``)."""
