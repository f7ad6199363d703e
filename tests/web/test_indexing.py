"""The outbox → indexer → reader path: one writer, readers reload, rebuild when unusable."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token
from tests.factories import Factory
from web.matching.indexing import Indexer, IndexerBusy
from web.matching.search import IndexReader

pytestmark = pytest.mark.slow


def seed(factory):
    owner = factory.user(role="enterprise")
    spring = factory.user(role="expert", name="弹簧专家")
    factory.achievement(spring, title="悬架弹簧腐蚀疲劳断裂机理与喷丸强化")
    fish = factory.user(role="expert", name="水产专家")
    factory.achievement(fish, title="罗非鱼无乳链球菌病灭活疫苗研制")
    need = factory.need(owner, title="弹簧跑两万公里就断了", description="断口有锈")
    return owner, spring, fish, need


def make_indexer(app):
    return Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"])


def suggestions(app, need_id):
    with app.app_context():
        from models import Need, db
        from web.matching.records import need_record
        from web.matching.search import rank_with_live_facts

        reader = IndexReader(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"], check_every=0)
        return [s.expert_id for s in rank_with_live_facts(reader.engine(), need_record(db.session.get(Need, need_id)), limit=5)]


def test_first_start_builds_the_index_and_marks_the_outbox_processed(app, factory):
    _, spring, _, need = seed(factory)
    with app.app_context():
        indexer = make_indexer(app)
        assert indexer.start().startswith("rebuilt")
        from web.infra.health import index_lag

        assert index_lag() == 0
    assert suggestions(app, need.id)[0] == str(spring.expert_id)


def test_a_profile_edit_reaches_the_readers_after_one_drain(app, client, auth, factory):
    _, spring, fish, need = seed(factory)
    with app.app_context():
        indexer = make_indexer(app)
        indexer.start()
    expert = auth.login_as("expert", name="新专家")
    page = client.get("/expert/profile")
    client.post("/expert/achievements", data={"csrf_token": csrf_token(page), "kind": "paper",
                                              "title": "汽车悬架弹簧断裂失效分析与寿命预测", "abstract": "弹簧断裂 断口 疲劳", "year": "2025"})
    with app.app_context():
        from web.infra.health import index_lag

        assert index_lag() >= 1
        assert indexer.drain() >= 1
        assert index_lag() == 0
    assert str(expert.expert_id) in suggestions(app, need.id)[:2]


def test_only_one_indexer_may_write(app):
    with app.app_context():
        first, second = make_indexer(app), make_indexer(app)
        first.acquire()
        try:
            with pytest.raises(IndexerBusy):
                second.acquire()
        finally:
            first.release()
        second.acquire()
        second.release()


@pytest.mark.parametrize("damage", ["truncate", "delete_current", "garbage_manifest"])
def test_a_damaged_index_is_quarantined_and_rebuilt_to_the_same_results(app, factory, damage):
    _, spring, _, need = seed(factory)
    with app.app_context():
        indexer = make_indexer(app)
        indexer.start()
    clean = suggestions(app, need.id)
    snapshot = indexer.store.root / indexer.store.current_name()
    if damage == "truncate":
        path = snapshot / "dense-e5" / "vectors.npy"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "delete_current":
        indexer.store.current_file.unlink()
    else:
        (snapshot / "manifest.json").write_text("\x00\x01 not json")
    with app.app_context():
        restarted = make_indexer(app)
        outcome = restarted.start()
        assert outcome.startswith("rebuilt"), outcome
    assert suggestions(app, need.id) == clean


def test_a_stale_index_is_rebuilt(app, factory):
    _, spring, _, need = seed(factory)
    with app.app_context():
        indexer = make_indexer(app)
        indexer.start()
        import sqlalchemy as sa

        from models import OutboxEntry, db, utcnow

        # An outbox row marked processed beyond the index's watermark: the index missed work.
        db.session.add(OutboxEntry(entity="expert", entity_id=spring.expert_id, processed_at=utcnow()))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.max(OutboxEntry.id))) > indexer.watermark
        outcome = make_indexer(app).start()
    assert "stale" in outcome


def test_healthz_reports_index_and_lag(app, client, factory):
    seed(factory)
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["index"]["loaded"] is False and body["index_lag"] >= 1
    with app.app_context():
        make_indexer(app).start()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["index"]["loaded"] is True and body["index_lag"] == 0
    assert body["index"]["built"] == "full" and body["index"]["rebuild_reason"] == "index missing"


def test_a_need_nobody_in_the_pool_works_on_says_so_on_the_page_and_in_the_api(app, client, auth, factory):
    """The cathode need of issue 10 against a spring and a fish expert: suggestions are shown,
    but the page and the API say that none is a strong match, and offer next steps."""
    owner, _, _, spring_need = seed(factory)
    cathode = factory.need(owner, title="高镍三元正极材料循环衰减快，需改善包覆与掺杂工艺",
                           description="NCM811正极在45℃循环300周后容量保持率低于88%，希望改善表面包覆与体相掺杂。")
    with app.app_context():
        make_indexer(app).start()
    coordinator = auth.login_as("coordinator")
    page = client.get(f"/coordinator/needs/{cathode.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="no-strong-match"' in html and "suggestion-" in html
    token = app.test_client().post("/api/v1/auth/login", json={"email": coordinator.email, "password": Factory.PASSWORD}).json["token"]
    api = app.test_client().get(f"/api/v1/needs/{cathode.id}/suggestions", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json["strong_match"] is False and api.json["items"]
    # The spring need has its expert in the pool: no such notice there.
    spring_page = client.get(f"/coordinator/needs/{spring_need.id}").get_data(as_text=True)
    assert 'id="no-strong-match"' not in spring_page
