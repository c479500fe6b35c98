"""The bundled drivers: file, s3 and http (entry points store_kit.drivers)."""
