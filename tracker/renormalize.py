"""Rebuild a policy's versions and changes from its stored raw captures with the current
normalizer, without refetching anything.

Revisions on dates that already had one keep their standing; a revision on a new date can only
come from the new normalizer (the archive did not change), so it is marked technical and kept
out of the change feeds.
"""

import hashlib
from dataclasses import dataclass

from db import Store
from tracker.normalize import normalize


@dataclass
class Renormalized:
    """What renormalizing one policy did."""

    policy: str
    captures: int = 0
    texts_changed: int = 0
    new_revisions: int = 0
    versions_removed: int = 0


def renormalize(store: Store, policy_id: int) -> Renormalized:
    """Normalize every fetched capture of a policy again; rebuild versions and revisions."""
    report = Renormalized(store.policy(policy_id)["name"])
    for capture, body, headers in list(store.fetched_captures(policy_id)):
        before = store.version(capture["version_id"])["sha256"] if capture["version_id"] else None
        result = normalize(body, headers=headers, url=capture["url"])
        after = hashlib.sha256(result.markdown.encode()).hexdigest() if result.markdown else None
        store.reclassify(
            capture["id"],
            markdown=result.markdown or None,
            title=result.title,
            reason=result.reason,
        )
        report.captures += 1
        report.texts_changed += before != after
    report.new_revisions = store.refresh(policy_id, technical=True)
    report.versions_removed = store.prune_versions(policy_id)
    return report
