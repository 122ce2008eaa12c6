"""zoo's built-in method plugins (installed as `zoo_plugins`), each found through the `zoo.plugins` entry points."""
