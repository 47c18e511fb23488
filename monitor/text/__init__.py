"""Pure text functions, no I/O: the folded forms text is compared in, HTML to text, portal
boilerplate, and article files in the shapes they come in. Imports nothing else of ours."""
