"""The language server: `perflint server` (needs the `lsp` extra: pygls and lsprotocol)."""
