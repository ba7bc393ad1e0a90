"""Pure renderers of walk records: text and HTML tables, the summary view, DOT text, call tables. No TensorFlow."""
