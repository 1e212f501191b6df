"""Provider webhook endpoints, the durable inbox and outbound deliveries (webhooks issue)."""
