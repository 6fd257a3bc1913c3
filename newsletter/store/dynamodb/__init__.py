"""DynamoDB backend (boto3): one table per deployment, ``<prefix>-store``, on-demand billing.

Single-table design, chosen so that everything about one person sits in one partition (``P#<email>``):
exporting or forgetting a person is one Query and one batch of deletes, with no scan.

=================  ===================  ======================  =======================  ==========
item               pk                   sk                      gsi1pk                   gsi1sk
=================  ===================  ======================  =======================  ==========
profile            ``P#<email>``        ``PROFILE``
membership         ``P#<email>``        ``M#<list>``            ``L#<list>#<status>``    email
consent event      ``P#<email>``        ``E#<at>#<ns><random>``
soft bounce        ``P#<email>``        ``B#<at>``
send ledger        ``P#<email>``        ``S#<issue>``           ``S#<issue>``            email
preferences        ``P#<email>``        ``R#<list>``            ``R#<list>``             email
suppression        ``X#<sha256(email)>`` ``X``
issue record       ``I#<issue>``        ``I``   (attributes ``doc``, and ``status``: what its moves are conditioned on)
issue part         ``I#<issue>#<seg>``  ``I``   (a segment's render; ``I#<issue>@<lang>``: a base issue)
batches done       ``I#<issue>``        ``B``   (attribute ``done``: the set of finished batch numbers)
SES notification   ``N#<id>``           ``N``
cache              ``C#<kind>#<key>``   ``C``
=================  ===================  ======================  =======================  ==========

The index ``gsi1`` lists a list's members of one status in email order (recipients, ``ls``, counts) and
an issue's ledger entries. Races are settled with ConditionExpression on the base table: the ledger claim,
issue creation and every move of its status, notification de-duplication and every membership change
(compare-and-set on the status, written together with its consent event in one transaction). Imports use
BatchGetItem then BatchWriteItem, which has no conditions: an address that is absent when the batch is read
and created by someone else in the milliseconds before the batch is written would be overwritten; imports are
an operator's action.
"""

from newsletter.store.dynamodb.people import People
from newsletter.store.dynamodb.preferences import Preferences
from newsletter.store.dynamodb.sending import Sending

__all__ = ["DynamoStore"]


class DynamoStore(People, Preferences, Sending):
    """The whole store: subscribers, consent and suppressions (``people``); readers' own choices
    (``preferences``); the cache, the send ledger, issue
    records and bounce events (``sending``); one connection and its helpers (``connection``)."""
