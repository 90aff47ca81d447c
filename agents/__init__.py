"""The bundled agent catalog: one markdown file per agent (read as data, never imported)."""
