"""MCP glue: tool loading, schemas, the call wrapper, middleware, the envelope and HTTP auth."""
