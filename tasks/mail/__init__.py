"""Mail: the outbox (an email is a row, queued in the transaction of the change that causes it),
delivery over SMTP with retries, and bounces that come back later."""

from tasks.mail.bounces import parse_bounce, record_bounce
from tasks.mail.outbox import DeliveryReport, QueuedEmail, SmtpConfig, deliver_due, queue_email

__all__ = ["DeliveryReport", "QueuedEmail", "SmtpConfig", "deliver_due", "parse_bounce", "queue_email", "record_bounce"]
