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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from detonate.acquire.reference import parse_reference
from detonate.acquire.resolve import Resolved
from detonate.admission.policy import Decision, ImageJudgement, decide
from detonate.admission.record import AdmissionRecorder
from detonate.admission.resolve import CachedResolver, ResolverSettings
from detonate.admission.review import ReviewRequest, parse_review, response
from detonate.admission.verdicts import VerdictCache
from detonate.errors import BadPayload, DetonateError
from detonate.model.image import Platform
from detonate.service.hooks import BodyTooLarge, error, read_limited
from detonate.service.metrics import ADMISSION_SECONDS
from detonate.service.scans import request_and_queue
from detonate.service.settings import Settings
from detonate.service.state import shared
from detonate.store import Source, Store

# The API server caps a request at 3 MiB; an object bigger than that is not a real review.
MAX_REVIEW_BYTES = 3 * 1024 * 1024


router = APIRouter(tags=["kubernetes admission"])


@dataclass
class AdmissionParts:
    resolver: CachedResolver
    verdicts: VerdictCache
    recorder: AdmissionRecorder
    lookups: ThreadPoolExecutor  # the images of one review are resolved in parallel


def admission_parts(app: FastAPI) -> AdmissionParts:
    settings: Settings = app.state.settings
    resolver = CachedResolver(
        ResolverSettings(
            platform=Platform.parse(settings.platform),
            timeout_seconds=settings.admission_lookup_seconds,
            ttl_seconds=settings.admission_tag_ttl_seconds,
            tls_verify=settings.registry_tls_verify,
        )
    )
    verdicts = VerdictCache(app.state.store, settings.admission_verdict_ttl_seconds)
    lookups = ThreadPoolExecutor(8, thread_name_prefix="detonate-admit")
    recorder = AdmissionRecorder(app.state.store)
    app.router.on_shutdown.append(recorder.flush)  # what is waiting is written before exit
    return AdmissionParts(resolver, verdicts, recorder, lookups)


def judge(
    review: ReviewRequest, parts: AdmissionParts, settings: Settings
) -> tuple[ImageJudgement, ...]:
    if review.namespace in settings.admission.exempt_namespaces:  # recorded, not looked up
        return tuple(ImageJudgement(container) for container in review.images)
    digest_of: dict[str, str | None] = {}
    missing = []
    for image in {container.image for container in review.images}:
        hit, digest = parts.resolver.known(image)
        if hit:
            digest_of[image] = digest
        else:
            missing.append(image)
    # Registry lookups, in parallel: the budget is for the slowest, not for their sum.
    found = parts.lookups.map(parts.resolver.digest_for, missing)
    digest_of.update(zip(missing, found, strict=True))
    judgements = []
    for container in review.images:
        digest = digest_of[container.image]
        stored = parts.verdicts.verdict_for(digest, settings.platform) if digest else None
        if stored is None:
            judgements.append(ImageJudgement(container, digest or ""))
            continue
        deciding = f"{stored.rule_id}: {stored.title}" if stored.rule_id else ""
        judgements.append(
            ImageJudgement(container, digest or "", stored.verdict, deciding, stored.scan_id)
        )
    return tuple(judgements)


def follow_up(
    app: FastAPI,
    parts: AdmissionParts,
    review: ReviewRequest,
    decision: Decision,
    judged: tuple[ImageJudgement, ...],
) -> None:
    """After the answer: queue scans of unknown digests, record the decision per image."""
    store: Store = app.state.store
    settings: Settings = app.state.settings
    queued: dict[str, str] = {}
    for unknown in decision.to_scan:
        named = parse_reference(unknown.image.image)
        resolved = Resolved(named, unknown.digest, "", settings.platform)
        scan, _ = request_and_queue(
            store,
            app.state.queue,
            resolved,
            source=Source.ADMISSION,
            profile=settings.profile,
            reference=str(named.pinned(unknown.digest)),
        )
        queued[unknown.digest] = scan.id
    for item in judged:
        parts.recorder.record(
            image=item.image.image,
            allowed=decision.allowed,
            digest=item.digest,
            verdict=item.verdict,
            policy=decision.reason,
            message=decision.message or "; ".join(decision.warnings),
            namespace=review.namespace,
            kind=review.kind,
            name=review.name,
            scan_id=item.scan_id or queued.get(item.digest) or None,
        )


@router.post("/k8s/validate")
async def validate(request: Request, background: BackgroundTasks) -> Response:
    """An AdmissionReview v1 from the API server; answered from stored verdicts only."""
    started = time.perf_counter()

    def rejected(status: int, message: str, hint: str = "") -> Response:
        ADMISSION_SECONDS.labels("rejected").observe(time.perf_counter() - started)
        return error(status, message, hint)

    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return rejected(415, "an AdmissionReview is application/json")
    try:
        review = parse_review(json.loads(await read_limited(request, MAX_REVIEW_BYTES)))
    except BodyTooLarge:
        return rejected(413, f"the review is larger than {MAX_REVIEW_BYTES} bytes")
    except (ValueError, UnicodeDecodeError) as exc:
        return rejected(400, f"the body is not JSON: {exc}")
    except BadPayload as exc:
        return rejected(400, exc.message, exc.hint)
    app = request.app
    settings: Settings = app.state.settings
    parts = shared(request, "admission", admission_parts)
    try:
        judged = await run_in_threadpool(judge, review, parts, settings)
    except DetonateError as exc:  # the store is down: the failurePolicy decides
        return rejected(503, exc.message, exc.hint)
    decision = decide(review.namespace, judged, settings.admission)
    if judged and not review.dry_run:
        background.add_task(follow_up, app, parts, review, decision, judged)
    answer = response(review.uid, decision.allowed, decision.message, decision.warnings)
    outcome = "denied" if not decision.allowed else "warned" if decision.warnings else "allowed"
    ADMISSION_SECONDS.labels(outcome).observe(time.perf_counter() - started)
    return JSONResponse(answer, background=background)
