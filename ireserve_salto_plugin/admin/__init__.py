"""The admin buttons (``on_admin_action``): activation of IQs, connection and site checks,
status, receipts and test opens, and the findings they report."""
