"""Mail: what a digest or alert carries, composing and rendering it (Jinja2 templates, inlined
CSS), the outbox that records and retries, and the transports (a folder of .eml files, SMTP)."""
