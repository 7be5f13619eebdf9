"""nutgraf: news summarization as a service. The core never imports flask or celery.

One namespace, two distributions: `nutgraf-client` (clients/python: nutgraf.client and the
HTTP contract, nutgraf.contract) and `nutgraf` (the server: everything else). A pkgutil-style
namespace needs this file to be the same in both (tests/test_layout.py checks it).
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)
