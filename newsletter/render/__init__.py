"""Renderers: the composed Issue in, the email's parts out (HTML, text, Markdown)."""
