"""This product's local stack: partner accounts seeded in moto (`local.seed`), the layer and a
function built as Lambda runs them (`local.stack`), and `make demo` (`local.demo`)."""
