"""Customer accounts and personal data: masking, encryption at rest.

Accounts, sessions and the per-customer keyring arrive with the customers issue; what is
here already guards every personal field the checkout stores.
"""

from customers.masking import Personal, mask_email, mask_text
from customers.pii import PiiCipher, PiiDecryptError

__all__ = ["Personal", "PiiCipher", "PiiDecryptError", "mask_email", "mask_text"]
