"""The payments example function: `app` (handler and actions), `models` (tables), `validate`.

On Lambda this folder is the `payments` package at the task root (handler
`payments.app.handler`); in this repository it imports as `functions.payments`.
"""
