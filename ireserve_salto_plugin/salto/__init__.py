"""The Salto KS Connect client, and nothing else: session, transport, OAuth, paging, the
endpoints, the API's types and errors, Salto's clock and the one-time codes. Imports
nothing from the rest of the package (a test checks it): it can be lifted out as a
Salto KS client library."""
