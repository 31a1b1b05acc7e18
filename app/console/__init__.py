"""The web console (docs/console.md): a page and its ES modules and styles, served at /console. It is a
client of the public JSON API like any other, with the same credentials; nothing here reads the database."""
