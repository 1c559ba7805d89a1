"""frontends/smtp."""
