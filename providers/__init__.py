"""Payment providers behind one small protocol, and local emulators of their APIs.

This package imports the providers' SDKs and nothing of ours (DESIGN.md).
"""

from providers.base import (
    ChargeRequest,
    EventBatch,
    EventSource,
    ListedEvent,
    NextAction,
    PaymentProvider,
    ProviderDeclined,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnsupported,
    SavedMethod,
    SavedMethods,
)

__all__ = [
    "ChargeRequest",
    "EventBatch",
    "EventSource",
    "ListedEvent",
    "NextAction",
    "PaymentProvider",
    "ProviderDeclined",
    "ProviderError",
    "ProviderPayment",
    "ProviderRefund",
    "ProviderRejected",
    "ProviderUnavailable",
    "ProviderUnsupported",
    "SavedMethod",
    "SavedMethods",
]
