"""Generated protocol stubs (gen.sh; do not edit)."""
