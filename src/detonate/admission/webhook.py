"""POST /k8s/validate: the ValidatingWebhookConfiguration's endpoint.

Answers from stored verdicts only: each image's tag is resolved to a digest (bounded, cached),
the digest's latest verdict is read from the store, and the policy decides. Scans of unknown
digests are queued, never awaited; the decision is recorded per image after the answer is sent
(source "admission"). A body that is not an AdmissionReview v1 gets a 400 with the reason: the
API server then applies the configuration's failurePolicy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from detonate.acquire.reference import parse_reference
from detonate.admission.policy import AdmissionPolicy, Decision, ImageJudgement, decide
from detonate.admission.review import ReviewRequest, parse_review, response
from detonate.errors import BadPayload, DetonateError
from detonate.model.image import Platform
from detonate.service.hooks import BodyTooLarge, error, read_limited

ADMISSION_SOURCE = "admission"
# The API server caps a request at 3 MiB; an object bigger than that is not a real review.
MAX_REVIEW_BYTES = 3 * 1024 * 1024


class AdmissionStore(Protocol):
    """What admission needs of the store (`detonate.store.Store` has it)."""

    def verdict_for(self, digest: str, platform: str = ...) -> Any: ...

    def request_scan(
        self, reference: str, *, digest: str, platform: str, source: str, **extra: Any
    ) -> tuple[Any, bool]: ...

    def record_admission(self, **decision: Any) -> Any: ...


class ScanSubmitter(Protocol):
    def submit(self, scan_id: Any) -> Any: ...


class NameResolver(Protocol):
    def digest_for(self, image: str) -> str | None: ...


def admission_router(
    store: AdmissionStore,
    queue: ScanSubmitter,
    resolver: NameResolver,
    policy: AdmissionPolicy,
    platform: Platform,
    *,
    observe: Callable[[float, str], None] = lambda seconds, outcome: None,
    lookups: int = 8,
) -> APIRouter:
    """`observe(seconds, outcome)` feeds the admission latency histogram."""
    router = APIRouter(tags=["kubernetes admission"])
    pool = ThreadPoolExecutor(lookups, thread_name_prefix="detonate-admission")

    def judge(review: ReviewRequest) -> tuple[ImageJudgement, ...]:
        if review.namespace in policy.exempt_namespaces:  # recorded, not looked up
            return tuple(ImageJudgement(container) for container in review.images)
        digests = list(pool.map(resolver.digest_for, [c.image for c in review.images]))
        judgements = []
        for container, digest in zip(review.images, digests, strict=True):
            stored = store.verdict_for(digest, str(platform)) if digest else None
            if stored is None:
                judgements.append(ImageJudgement(container, digest or ""))
                continue
            deciding = f"{stored.rule_id}: {stored.title}" if stored.rule_id else ""
            judgements.append(
                ImageJudgement(container, digest or "", stored.verdict, deciding, stored.scan_id)
            )
        return tuple(judgements)

    def follow_up(
        review: ReviewRequest, decision: Decision, judged: tuple[ImageJudgement, ...]
    ) -> None:
        """After the answer: queue scans of unknown digests, record the decision per image."""
        queued: dict[str, str] = {}
        for unknown in decision.to_scan:
            pinned = parse_reference(unknown.image.image).pinned(unknown.digest)
            scan, created = store.request_scan(
                str(pinned), digest=unknown.digest, platform=str(platform), source=ADMISSION_SOURCE
            )
            if created:
                queue.submit(scan.id)
            queued[unknown.digest] = str(scan.id)
        for item in judged:
            store.record_admission(
                image=item.image.image,
                allowed=decision.allowed,
                digest=item.digest,
                verdict=item.verdict,
                policy=decision.reason,
                message=decision.message,
                namespace=review.namespace,
                kind=review.kind,
                name=review.name,
                scan_id=item.scan_id or queued.get(item.digest) or None,
            )

    @router.post("/k8s/validate")
    async def validate(request: Request, background: BackgroundTasks) -> Response:
        started = time.perf_counter()
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            observe(time.perf_counter() - started, "bad-request")
            return error(415, "an AdmissionReview is application/json")
        try:
            review = parse_review(json.loads(await read_limited(request, MAX_REVIEW_BYTES)))
        except BodyTooLarge:
            observe(time.perf_counter() - started, "bad-request")
            return error(413, f"the review is larger than {MAX_REVIEW_BYTES} bytes")
        except (ValueError, UnicodeDecodeError) as exc:
            observe(time.perf_counter() - started, "bad-request")
            return error(400, f"the body is not JSON: {exc}")
        except BadPayload as exc:
            observe(time.perf_counter() - started, "bad-request")
            return error(400, exc.message, exc.hint)
        try:
            judged = await run_in_threadpool(judge, review)
        except DetonateError as exc:  # the store is down: let failurePolicy decide
            observe(time.perf_counter() - started, "error")
            return error(503, exc.message, exc.hint)
        decision = decide(review.namespace, judged, policy)
        if judged and not review.dry_run:
            background.add_task(follow_up, review, decision, judged)
        answer = response(review.uid, decision.allowed, decision.message, decision.warnings)
        observe(time.perf_counter() - started, decision.reason)
        return JSONResponse(answer, background=background)

    return router
