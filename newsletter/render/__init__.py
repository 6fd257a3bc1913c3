"""Renderers: the Issue as Markdown (markdown.py), email HTML and text, and web pages."""
