"""Customer accounts and personal data: masking, the PII vault (per-customer keys, the
encrypted column type, blind index, rotation), passwords, sessions, sign-in throttling,
email verification and the email outbox. Imports nothing of ours: the account use cases
that touch checkouts and orders live in ``checkout/services/accounts.py``.
"""

from customers.masking import Personal, mask_email, mask_text
from customers.pii import PiiCipher, PiiDecryptError

__all__ = ["Personal", "PiiCipher", "PiiDecryptError", "mask_email", "mask_text"]
