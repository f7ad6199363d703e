"""One full journey through the JSON API, as an outside integration would drive it."""

from __future__ import annotations


def token(client, user, password):
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_need_to_connected_match_through_the_api(client, factory):
    enterprise = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    coordinator = factory.user(role="coordinator")
    e_h, x_h, c_h = (token(client, u, factory.PASSWORD) for u in (enterprise, expert, coordinator))

    created = client.post("/api/v1/needs", headers=e_h, json={"title": "减振器低速异响", "description": "过减速带咯噔响",
                                                              "industry_codes": ["36"], "cooperation_modes": ["consulting"]})
    assert created.status_code == 201
    need_id = created.get_json()["id"]
    assert client.get(f"/api/v1/needs/{need_id}", headers=e_h).get_json()["title"] == "减振器低速异响"

    patched = client.patch("/api/v1/experts/me", headers=x_h, json={"keywords": ["减振器", "NVH"], "capacity": 2,
                                                                    "contacts": {"phone": "13912345678", "wechat": "nvh_li"}})
    assert patched.status_code == 200 and patched.get_json()["contacts"]["phone"] == "13912345678"
    added = client.post("/api/v1/experts/me/achievements", headers=x_h, json={"kind": "paper", "title": "减振器异响机理", "year": 2024})
    assert added.status_code == 201

    proposal = client.post("/api/v1/matches", headers=c_h, json={"need_id": need_id, "expert_id": expert.expert_id})
    assert proposal.status_code == 201 and proposal.get_json()["status"] == "proposed"
    match_id = proposal.get_json()["id"]
    assert "contacts" in client.get(f"/api/v1/matches/{match_id}", headers=c_h).get_json()

    before = client.get(f"/api/v1/matches/{match_id}", headers=e_h)
    assert "contacts" not in before.get_json() and b"13912345678" not in before.data
    assert client.post(f"/api/v1/matches/{match_id}/respond", headers=x_h, json={"accept": True}).get_json()["status"] == "expert_accepted"
    assert b"13912345678" not in client.get(f"/api/v1/experts/{expert.expert_id}", headers=e_h).data
    connected = client.post(f"/api/v1/matches/{match_id}/respond", headers=e_h, json={"accept": True}).get_json()
    assert connected["status"] == "connected"
    assert connected["contacts"]["expert"]["phone"] == "13912345678"
    assert client.get(f"/api/v1/experts/{expert.expert_id}", headers=e_h).get_json()["contacts"]["wechat"] == "nvh_li"

    intent = client.post(f"/api/v1/matches/{match_id}/outcome", headers=x_h, json={"status": "intent", "note": "ok"})
    assert intent.status_code == 200 and intent.get_json()["status"] == "intent"
    contract = client.post(f"/api/v1/matches/{match_id}/outcome", headers=e_h, json={"status": "contract", "amount": 30})
    assert contract.status_code == 200 and contract.get_json()["status"] == "contract_by_enterprise"  # the expert confirms
    confirmed = client.post(f"/api/v1/matches/{match_id}/confirmation", headers=x_h, json={"status": "contract", "confirm": True})
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "contract"
    completed = client.post(f"/api/v1/matches/{match_id}/outcome", headers=c_h, json={"status": "completed", "note": "ok"})
    assert completed.status_code == 200 and completed.get_json()["status"] == "completed"  # a coordinator's counts at once
    illegal = client.post(f"/api/v1/matches/{match_id}/outcome", headers=c_h, json={"status": "intent"})
    assert illegal.status_code == 409 and illegal.get_json()["error"]["code"] == "illegal_transition"
    history = client.get(f"/api/v1/matches/{match_id}", headers=c_h).get_json()["events"]
    assert [e["to"] for e in history] == ["proposed", "expert_accepted", "connected", "intent", "contract_by_enterprise",
                                          "contract", "completed"]
    assert [e["actor_role"] for e in history][-3:] == ["enterprise", "expert", "coordinator"]


def test_errors_are_json_with_the_right_status(client, factory):
    enterprise = factory.user(role="enterprise")
    headers = token(client, enterprise, factory.PASSWORD)
    assert client.get("/api/v1/needs").status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": enterprise.email, "password": "wrong-wrong"}).status_code == 401
    bad = client.post("/api/v1/needs", headers=headers, json={"title": "", "budget_min": "x"})
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) >= {"title", "budget_min"}
    assert client.post("/api/v1/needs", headers=headers, data="not json", content_type="application/json").status_code == 400
    assert client.get("/api/v1/stats", headers=headers).status_code == 403
    assert client.get("/api/v1/needs/999999", headers=headers).status_code == 404
    assert client.get("/api/v1/nothing-here", headers=headers).get_json()["error"]["code"] == "not_found"


def test_declining_needs_a_reason(client, factory):
    enterprise, expert, coordinator = (factory.user(role=r) for r in ("enterprise", "expert", "coordinator"))
    need = factory.need(enterprise)
    c_h, x_h = token(client, coordinator, factory.PASSWORD), token(client, expert, factory.PASSWORD)
    match_id = client.post("/api/v1/matches", headers=c_h, json={"need_id": need.id, "expert_id": expert.expert_id}).get_json()["id"]
    refused = client.post(f"/api/v1/matches/{match_id}/respond", headers=x_h, json={"accept": False})
    assert refused.status_code == 400 and "reason" in refused.get_json()["error"]["fields"]
    declined = client.post(f"/api/v1/matches/{match_id}/respond", headers=x_h, json={"accept": False, "reason": "no_capacity"})
    assert declined.status_code == 200 and declined.get_json()["status"] == "expert_declined"
    again = client.post(f"/api/v1/matches/{match_id}/respond", headers=x_h, json={"accept": False, "reason": "no_capacity"})
    assert again.status_code == 200  # idempotent
    late = client.post(f"/api/v1/matches/{match_id}/respond", headers=x_h, json={"accept": True})
    assert late.status_code == 409
