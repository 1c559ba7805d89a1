"""The milter front end: Postfix/Sendmail hand each message to the same engine and policy."""
