"""Channel senders: named strategies in an explicit registry (`email`, `sms`, `line`, `webhook`)."""
