from tests.web.test_lifecycle_table import Cast, svc, user
def test_dbg(app, factory, auth, client):
    cast = Cast(factory.user(role="enterprise"), factory.user(role="expert"), factory.user(role="coordinator"))
    need_id = factory.need(cast.enterprise).id
    with app.app_context():
        match_id = svc.propose(user(cast.coordinator), need_id, cast.expert.expert_id)[0].id
    auth.login(cast.expert)
    r = client.get(f"/matches/{match_id}")
    print(r.status_code)
    html = r.data.decode()
    i = html.find('id="stepper"')
    print(html[i-200:i+3000])
    assert 0
