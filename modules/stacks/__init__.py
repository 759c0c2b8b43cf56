"""One TerraformStack per file; composed in main.py."""
