"""The bundled Textual themes: one YAML file per theme (read as data, never imported)."""
