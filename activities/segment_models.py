"""Names and payloads of the segment activities (lookup, scores, enrollment).

Free of heavy imports so workflow code can pass it through the sandbox. One pydantic model in,
one out; new fields get defaults.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

LOOKUP_SEGMENTS = "lookup_segments"
REFRESH_SCORES = "refresh_segment_scores"
ENROLLMENT_PAGE = "segment_enrollment_page"
ENROLL_CONTACTS = "enroll_segment_contacts"
SEGMENT_LEAVERS = "segment_leavers"
SEGMENT_LEFT = "Segment Left"
# Cursor-paged enrollment: contact ids stay inside the activities, the workflow sees counts.
ENROLL_PAGE = "segment_enroll_page"
LEAVERS_PAGE = "segment_leavers_page"


class LookupSegments(BaseModel):
    """Is this contact in these named segments? (a local activity: cheap, no retries needed)"""

    contact_id: str
    names: list[str]


class SegmentMembership(BaseModel):
    """Membership per requested segment name."""

    contact_id: str
    segments: dict[str, bool] = Field(default_factory=dict)


class RefreshScores(BaseModel):
    """Recompute the RFM scores of the whole base as of ``now``."""

    now: datetime


class ScoresRefreshed(BaseModel):
    """How many contacts got scores."""

    scored: int


class EnrollmentPageRequest(BaseModel):
    """The next page of segment members not enrolled in the journey yet."""

    journey: str
    segment: str
    now: datetime
    after: str | None = None
    limit: int = 1000


class EnrollmentPage(BaseModel):
    """Contact ids in id order (empty when done)."""

    contact_ids: list[str] = Field(default_factory=list)


class EnrollContacts(BaseModel):
    """Start the journey for these contacts and remember that they entered."""

    journey: str
    segment: str
    contact_ids: list[str]
    now: datetime
    concurrency: int = 20
    # The pace of the journeys it starts (workflows/clock.py); None: the router's own.
    time_scale: float | None = None


class Enrolled(BaseModel):
    """Journeys started, and contacts the journey refused (already in it, or re-entry)."""

    started: int = 0
    refused: int = 0


class LeaversRequest(BaseModel):
    """Forget enrollments of contacts who left the segment; optionally tell their journey."""

    journey: str
    segment: str
    now: datetime
    notify: bool = False
    run_id: str = ""


class Leavers(BaseModel):
    """Contacts who left the segment since they entered the journey."""

    contact_ids: list[str] = Field(default_factory=list)


class EnrollPage(BaseModel):
    """Enrol the next page of members after ``after``: look them up, start, record.

    Attributes:
        concurrency: journey starts in flight at once.
    """

    journey: str
    segment: str
    now: datetime
    after: str | None = None
    limit: int = 1000
    concurrency: int = 50
    # The pace of the journeys it starts (workflows/clock.py); None: the router's own.
    time_scale: float | None = None


class LeaversPage(BaseModel):
    """Forget (and optionally tell) the next page of contacts who left the segment."""

    journey: str
    segment: str
    now: datetime
    after: str | None = None
    limit: int = 1000
    notify: bool = False
    run_id: str = ""


class PageDone(BaseModel):
    """What one page did: a cursor and counts, never the ids themselves.

    Attributes:
        after: the cursor for the next page (the page's last contact id); None when there was
            nothing left.
        contacts: contacts on the page.
        started: journeys started.
        refused: contacts the journey refused (already in it, or its re-entry policy).
    """

    after: str | None = None
    contacts: int = 0
    started: int = 0
    refused: int = 0
