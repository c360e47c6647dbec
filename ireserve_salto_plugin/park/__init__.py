"""What a park configures and the words it reads: the settings schema and its form, the
platform variables of the host process, the catalogs (nl, en, de) and the messages."""
