"""The composition root: builds every component once and hands each what it needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import CollectorRegistry

from checkout import paypal_dev
from checkout.config import Settings
from checkout.db.engine import Database, make_database
from checkout.services.accounts import AccountService
from checkout.services.api_keys import ApiKeys
from checkout.services.audit_log import AuditLog
from checkout.services.catalog import CatalogService
from checkout.services.checkouts import CheckoutService
from checkout.services.customer_orders import CustomerOrders
from checkout.services.customer_records import CustomerRecords
from checkout.services.erasure import ErasureService
from checkout.services.export import ExportService
from checkout.services.fulfillments import Fulfillments
from checkout.services.mail import MailDispatch
from checkout.services.operations import PaymentOperations
from checkout.services.order_listing import OrderListing
from checkout.services.password_work import PasswordWork
from checkout.services.payments import PaymentService
from checkout.services.paypal_event_refs import PayPalEventRefs
from checkout.services.paypal_orders import PayPalOrders
from checkout.services.provider_events import ProviderEvents
from checkout.services.reconciliation import Reconciler
from checkout.services.retention import Retention
from checkout.services.saved_methods import SavedMethodService
from checkout.services.staff import StaffService
from checkout.services.staff_orders import StaffOrders
from checkout.services.uow import UnitOfWork
from checkout.services.webhook_endpoints import WebhookEndpoints
from checkout.web.edge import HttpMetrics
from checkout.web.idempotency import Idempotency
from customers.blind_index import BlindIndex
from customers.keys import LocalKeyProvider
from customers.keystore import KeyStore
from customers.mail import DevFileSender, LogSender, MailSender
from customers.pii import PiiCipher, derive_key
from customers.sessions import STAFF_SESSIONS, Sessions
from customers.throttle import SignInThrottle
from customers.vault import Vault
from providers.base import PaymentProvider, ProviderEvent, SavedMethods
from providers.paypal import PayPalProvider
from providers.paypal.webhook_signature import PayPalVerifier, httpx_fetcher
from providers.retry import DEFAULT_RETRY
from providers.stripe import StripeProvider
from webhooks.catchup import EventCatchUp
from webhooks.delivery import HttpSender, OutboundDeliveries
from webhooks.inbox import Inbox
from webhooks.subscriptions import Subscriptions
from webhooks.worker import Handler, InboxWorker, Prepare

# Pages of a provider's event list read per reconciliation pass (100 events each).
CATCH_UP_PAGES = 10


@dataclass
class AppContext:
    settings: Settings
    db: Database
    uow: UnitOfWork
    cipher: Vault
    providers: dict[str, PaymentProvider]
    catalog: CatalogService
    checkouts: CheckoutService
    payments: PaymentService
    operations: PaymentOperations
    paypal_orders: PayPalOrders
    inbox: Inbox
    reconciler: Reconciler
    paypal_webhooks: PayPalVerifier | None
    inbox_worker: InboxWorker
    idempotency: Idempotency
    api_keys: ApiKeys
    fulfillments: Fulfillments
    webhook_endpoints: WebhookEndpoints
    outbound: OutboundDeliveries
    registry: CollectorRegistry
    metrics: HttpMetrics
    accounts: AccountService
    customer_orders: CustomerOrders
    mail: MailDispatch
    saved_methods: SavedMethodService
    erasure: ErasureService
    export: ExportService
    retention: Retention
    staff: StaffService
    audit_log: AuditLog
    order_listing: OrderListing
    customer_records: CustomerRecords
    staff_orders: StaffOrders
    outbound_sender: HttpSender = field(default_factory=HttpSender)
    extras: dict[str, object] = field(default_factory=dict)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        await self.outbound_sender.aclose()
        self.uow.close()
        self.cipher.keys.close()
        self.db.dispose()


def provider_lease(settings: Settings) -> timedelta:
    """How long a request may be waiting on a provider (every attempt timing out, with the
    backoff between them) plus a margin for its own database work. Past it, the request is
    presumed dead and its payment or operation may be taken over."""
    return timedelta(seconds=DEFAULT_RETRY.worst_case(settings.provider_timeout) + 5)


def _paypal_verifier(settings: Settings) -> PayPalVerifier | None:
    """PayPal webhooks verify only with a webhook id and the roots PayPal's certificate
    chains to (a PEM bundle); without both, /webhooks/paypal stores nothing. In dev with
    the emulator, the roots are its test CA and its certificate is pinned: nothing is
    fetched. Production always fetches from PayPal (https, paypal.com only)."""
    if settings.paypal_dev_pki is not None and not settings.is_production:
        return paypal_dev.verifier(settings.paypal_dev_pki, settings.paypal_webhook_id)
    if not settings.paypal_webhook_id or settings.paypal_ca_bundle is None:
        return None
    return PayPalVerifier(
        webhook_id=settings.paypal_webhook_id,
        ca_bundle_pem=settings.paypal_ca_bundle.read_bytes(),
        fetch=httpx_fetcher(),
    )


def _batch_handler(paypal: PayPalProvider | None, events: ProviderEvents) -> Prepare:
    """The inbox handler for each claimed batch: the batch's payments read at once."""

    async def prepare(batch: Sequence[ProviderEvent]) -> Handler:
        return PayPalEventRefs(paypal, await events.for_batch(batch)).apply

    return prepare


def build_vault(settings: Settings) -> Vault:
    provider = LocalKeyProvider(settings.kek_bytes(), previous=settings.previous_kek_bytes())
    keystore = KeyStore(str(settings.keystore_url), provider)
    # Values written before the vault (one root-derived key) still open; rotation
    # rewrites them under the key store's keys.
    return Vault(keystore, legacy=PiiCipher.from_root(settings.root_secret_bytes()))


def build_blind_index(settings: Settings) -> BlindIndex:
    # A key of its own, derived for this purpose alone: never an encryption key.
    return BlindIndex(derive_key(settings.root_secret_bytes(), "checkout/blind-index/email/v1"))


def _mail_sender(settings: Settings) -> MailSender:
    """In dev, emails are files in the data dir (a developer follows the verification
    link from there); elsewhere, only the fact is logged until a transport is configured."""
    if settings.is_production:
        return LogSender()
    return DevFileSender(settings.data_dir / "dev-mail")


def build_context(
    settings: Settings,
    *,
    stripe_api_base: str | None = None,
    paypal_api_base: str | None = None,
    vault: Vault | None = None,
) -> AppContext:
    db = make_database(str(settings.database_url))
    uow = UnitOfWork(db)
    # ``vault`` only for the benchmark that prices encryption against none at all.
    cipher = vault if vault is not None else build_vault(settings)
    stripe = StripeProvider(
        secret_key=str(settings.stripe_secret_key),
        api_base=stripe_api_base or settings.stripe_api_base,
        timeout=settings.provider_timeout,
    )
    providers: dict[str, PaymentProvider] = {"stripe": stripe}
    paypal_base = paypal_api_base or settings.paypal_api_base
    if paypal_base and settings.paypal_client_id:
        providers["paypal"] = PayPalProvider(
            client_id=settings.paypal_client_id,
            client_secret=str(settings.paypal_client_secret),
            api_base=paypal_base,
            timeout=settings.provider_timeout,
        )
    catalog = CatalogService(uow, cache_seconds=settings.catalog_cache_seconds)
    blind_index = build_blind_index(settings)
    checkouts = CheckoutService(uow, cipher, catalog, blind_index)
    order_codec = checkouts.codec.for_table("orders")
    registry = CollectorRegistry()
    # Only Stripe keeps saved methods (PayPal's vault is not integrated).
    saving: dict[str, SavedMethods] = {"stripe": stripe}
    saved_methods = SavedMethodService(uow, saving)
    customer_sessions = Sessions("customer")
    # One hasher for customers and staff: together they stay within its memory bound.
    passwords = PasswordWork()
    payments = PaymentService(
        uow,
        checkouts,
        cipher,
        providers,
        capture_mode=settings.capture_mode,
        lease=provider_lease(settings),
        saved=saved_methods,
    )
    paypal = providers.get("paypal")
    paypal_provider = paypal if isinstance(paypal, PayPalProvider) else None
    inbox = Inbox(uow, cipher)
    events = ProviderEvents(uow, payments, providers)
    # Integrations on plain http only in dev (a receiver on localhost, say).
    subscriptions = Subscriptions(cipher, require_https=settings.is_production)
    sender = HttpSender()
    # Only Stripe lists past events; PayPal's missed webhooks are left to reconciliation.
    catch_up = EventCatchUp(
        inbox,
        uow,
        [stripe],
        max_pages=CATCH_UP_PAGES,
        # Every page may wait out the provider's retries; a pass past this is presumed dead.
        lease=provider_lease(settings) * CATCH_UP_PAGES + timedelta(minutes=1),
    )
    operations = PaymentOperations(uow, providers, lease=provider_lease(settings))
    return AppContext(
        settings=settings,
        db=db,
        uow=uow,
        cipher=cipher,
        providers=providers,
        catalog=catalog,
        checkouts=checkouts,
        payments=payments,
        operations=operations,
        paypal_orders=PayPalOrders(
            uow, checkouts, paypal_provider, capture_mode=settings.capture_mode
        ),
        # A request holds its key while it may still be waiting on a provider, and a
        # little longer for its own database work.
        idempotency=Idempotency(uow, cipher, lease=provider_lease(settings) + timedelta(seconds=5)),
        inbox=inbox,
        reconciler=Reconciler(uow, payments, providers, catch_up=catch_up),
        paypal_webhooks=_paypal_verifier(settings),
        # PayPal refund events name a capture; PayPalEventRefs finds its order first.
        inbox_worker=InboxWorker(
            inbox,
            uow,
            PayPalEventRefs(paypal_provider, events.apply).apply,
            prepare=_batch_handler(paypal_provider, events),
            # A claimed batch stops starting events in time to be recorded within its
            # lease, even when every provider lookup takes its whole retry budget.
            lease=provider_lease(settings) + timedelta(seconds=60),
            handle_within=provider_lease(settings),
        ),
        api_keys=ApiKeys(uow),
        fulfillments=Fulfillments(uow),
        webhook_endpoints=WebhookEndpoints(uow, subscriptions),
        outbound=OutboundDeliveries(uow, subscriptions, sender),
        outbound_sender=sender,
        registry=registry,
        metrics=HttpMetrics(registry),
        accounts=AccountService(
            uow,
            cipher,
            blind_index,
            checkouts.codec,
            order_codec,
            throttle=SignInThrottle(
                derive_key(settings.root_secret_bytes(), "checkout/sign-in-throttle/v1")
            ),
            sessions=customer_sessions,
            passwords=passwords,
        ),
        customer_orders=CustomerOrders(uow, order_codec),
        mail=MailDispatch(uow, cipher, _mail_sender(settings)),
        saved_methods=saved_methods,
        erasure=ErasureService(uow, cipher, customer_sessions, saving),
        export=ExportService(uow, cipher, checkouts.codec, order_codec, customer_sessions),
        retention=Retention(uow, days=settings.retention_days),
        staff=StaffService(
            uow,
            cipher,
            blind_index,
            # A throttle key of its own: a customer's failures never lock a staff sign-in
            # out, nor the other way round.
            throttle=SignInThrottle(
                derive_key(settings.root_secret_bytes(), "checkout/staff-sign-in-throttle/v1")
            ),
            sessions=Sessions("staff", STAFF_SESSIONS),
            passwords=passwords,
        ),
        audit_log=AuditLog(uow),
        order_listing=OrderListing(uow, order_codec, blind_index),
        customer_records=CustomerRecords(uow, cipher),
        staff_orders=StaffOrders(uow, operations),
    )
