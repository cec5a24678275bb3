"""Authentication: logins, identity of each call, tokens, users, lockouts, password policy."""
