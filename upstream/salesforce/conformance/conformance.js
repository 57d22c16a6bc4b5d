// Drives the tether Salesforce simulator with jsforce, a real Salesforce
// client library, and checks it gets what it would get from Salesforce.
// Run by conformance_test.go with INSTANCE_URL, LOGIN_URL, ACCESS_TOKEN,
// REFRESH_TOKEN, CLIENT_ID, CLIENT_SECRET and EXPECT_CONTACTS in the
// environment. Prints one "ok - name" or "not ok - name: reason" line per
// check and exits 1 when any check failed.
'use strict';

const jsforce = require('jsforce');
const assert = require('assert');

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`missing ${k}`);
    process.exit(2);
  }
  return v;
};

const instanceUrl = env('INSTANCE_URL');
const loginUrl = env('LOGIN_URL');
const accessToken = env('ACCESS_TOKEN');
const refreshToken = env('REFRESH_TOKEN');
const clientId = env('CLIENT_ID');
const clientSecret = env('CLIENT_SECRET');
const expectContacts = parseInt(env('EXPECT_CONTACTS'), 10);

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    const detail = err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : String(err);
    console.log(`not ok - ${name}: ${detail}`);
  }
}

async function control(path, body) {
  const res = await fetch(instanceUrl + '/_sim/' + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body || {}),
  });
  if (!res.ok) throw new Error(`control ${path}: ${res.status}`);
  return res.json();
}

async function main() {
  const conn = new jsforce.Connection({ instanceUrl, accessToken, version: '62.0' });

  await check('describeGlobal lists the default objects', async () => {
    const g = await conn.describeGlobal();
    const names = g.sobjects.map((s) => s.name);
    for (const n of ['Account', 'Contact', 'Lead', 'Opportunity', 'User']) assert.ok(names.includes(n), n);
    assert.strictEqual(g.maxBatchSize, 200);
  });

  await check('describe Account: compound and audit fields', async () => {
    const d = await conn.sobject('Account').describe();
    assert.strictEqual(d.name, 'Account');
    assert.strictEqual(d.keyPrefix, '001');
    const f = Object.fromEntries(d.fields.map((x) => [x.name, x]));
    assert.strictEqual(f.BillingAddress.type, 'address');
    assert.strictEqual(f.BillingCity.compoundFieldName, 'BillingAddress');
    assert.strictEqual(f.SystemModstamp.createable, false);
    assert.strictEqual(f.Name.nillable, false);
  });

  await check('describe User', async () => {
    const d = await conn.describe('User');
    const names = d.fields.map((x) => x.name);
    for (const n of ['Username', 'Email', 'IsActive', 'ProfileId', 'TimeZoneSidKey']) assert.ok(names.includes(n), n);
  });

  await check('limits: DailyApiRequests', async () => {
    const l = await conn.limits();
    assert.ok(l.DailyApiRequests.Max > 0);
    assert.ok(l.DailyApiRequests.Remaining < l.DailyApiRequests.Max);
  });

  await check('query with autoFetch pages through nextRecordsUrl', async () => {
    const records = [];
    const q = conn.query('SELECT Id, Name, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id');
    q.on('record', (r) => records.push(r));
    await q.run({ autoFetch: true, maxFetch: 100000 });
    assert.strictEqual(q.totalSize, expectContacts);
    assert.strictEqual(records.length, expectContacts);
    assert.strictEqual(new Set(records.map((r) => r.Id)).size, expectContacts);
    assert.strictEqual(records[0].attributes.type, 'Contact');
    assert.match(records[0].SystemModstamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/);
  });

  await check('query then queryMore by hand', async () => {
    const first = await conn.query('SELECT Id FROM Contact', { autoFetch: false });
    assert.strictEqual(first.done, false);
    assert.strictEqual(first.records.length, 2000);
    assert.match(first.nextRecordsUrl, /\/services\/data\/v62\.0\/query\/01g[0-9A-Za-z]{15}-2000$/);
    const next = await conn.queryMore(first.nextRecordsUrl);
    assert.strictEqual(next.done, true);
    assert.strictEqual(first.records.length + next.records.length, expectContacts);
  });

  await check('parent relationship fields', async () => {
    const r = await conn.query('SELECT Id, Account.Name, Owner.Email FROM Contact WHERE AccountId != null LIMIT 5');
    assert.ok(r.records.length > 0);
    for (const rec of r.records) {
      assert.strictEqual(rec.Account.attributes.type, 'Account');
      assert.strictEqual(typeof rec.Account.Name, 'string');
      assert.match(rec.Owner.Email, /@/);
    }
  });

  await check('COUNT()', async () => {
    const r = await conn.query('SELECT COUNT() FROM Contact');
    assert.strictEqual(r.totalSize, expectContacts);
  });

  let ids = [];
  await check('collections create with allOrNone=false: one bad record', async () => {
    const res = await conn.sobject('Account').create(
      [{ Name: 'Conformance One' }, { Type: 'Prospect' }, { Name: 'Conformance Three', Website: 'https://x.example' }],
      { allOrNone: false });
    assert.strictEqual(res.length, 3);
    assert.ok(res[0].success && res[2].success, JSON.stringify(res));
    assert.strictEqual(res[1].success, false);
    assert.strictEqual(res[1].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');
    assert.deepStrictEqual(res[1].errors[0].fields, ['Name']);
    ids = [res[0].id, res[2].id];
  });

  await check('collections update and retrieve', async () => {
    const res = await conn.sobject('Account').update(
      ids.map((Id, i) => ({ Id, Description: `updated ${i}` })), { allOrNone: false });
    assert.ok(res.every((r) => r.success), JSON.stringify(res));
    const recs = await conn.sobject('Account').retrieve(ids);
    assert.deepStrictEqual(recs.map((r) => r.Description), ['updated 0', 'updated 1']);
  });

  await check('collections update: read-only field fails that record only', async () => {
    const res = await conn.sobject('Account').update(
      [{ Id: ids[0], Name: 'Renamed' }, { Id: ids[1], CreatedDate: '2020-01-01T00:00:00Z' }], { allOrNone: false });
    assert.strictEqual(res[0].success, true);
    assert.strictEqual(res[1].success, false);
    assert.strictEqual(res[1].errors[0].statusCode, 'INVALID_FIELD_FOR_INSERT_UPDATE');
  });

  await check('single record create/update/delete', async () => {
    const c = await conn.sobject('Contact').create({ LastName: 'Solo', Email: 'solo@example.com' });
    assert.ok(c.success);
    assert.match(c.id, /^003[0-9A-Za-z]{15}$/);
    await conn.sobject('Contact').update({ Id: c.id, Title: 'Lead Engineer' });
    const rec = await conn.sobject('Contact').retrieve(c.id);
    assert.strictEqual(rec.Title, 'Lead Engineer');
    assert.strictEqual(rec.Name, 'Solo');
    await conn.sobject('Contact').destroy(c.id);
  });

  await check('collections delete, then query hides and queryAll shows', async () => {
    const res = await conn.sobject('Account').destroy(ids, { allOrNone: false });
    assert.ok(res.every((r) => r.success), JSON.stringify(res));
    const soql = `SELECT Id, IsDeleted FROM Account WHERE Id IN ('${ids.join("','")}')`;
    const live = await conn.query(soql);
    assert.strictEqual(live.totalSize, 0);
    const all = await conn.query(soql, { scanAll: true });
    assert.strictEqual(all.totalSize, 2);
    assert.ok(all.records.every((r) => r.IsDeleted === true));
    const all2 = await conn.query(soql).scanAll(true);
    assert.strictEqual(all2.totalSize, 2);
  });

  await check('query error carries errorCode', async () => {
    await assert.rejects(conn.query('SELECT Id, NoSuchField__c FROM Account'), (err) => {
      assert.strictEqual(err.errorCode, 'INVALID_FIELD');
      return true;
    });
    await assert.rejects(conn.query('SELECT Id FROM NoSuchObject__c'), (err) => err.errorCode === 'INVALID_TYPE');
  });

  await check('getUpdated / getDeleted', async () => {
    // the replication API covers whole minutes up to now: move the clock on
    await control('clock', { advance: '2m' });
    const end = new Date(Date.now() + 120000);
    const start = new Date(Date.now() - 3600000);
    const upd = await conn.sobject('Account').updated(start, end);
    assert.ok(Array.isArray(upd.ids));
    assert.ok(upd.latestDateCovered);
    const del = await conn.sobject('Account').deleted(start, end);
    const deletedIds = del.deletedRecords.map((d) => d.id);
    for (const id of ids) assert.ok(deletedIds.includes(id), id);
  });

  await check('expired session: refresh with the refresh token, then retry', async () => {
    await control('tokens/expire');
    await assert.rejects(conn.query('SELECT Id FROM Account LIMIT 1'), (err) => err.errorCode === 'INVALID_SESSION_ID');
    const conn2 = new jsforce.Connection({
      oauth2: { loginUrl, clientId, clientSecret },
      instanceUrl, accessToken, refreshToken, version: '62.0',
    });
    let refreshed = null;
    conn2.on('refresh', (tok) => { refreshed = tok; });
    const r = await conn2.query('SELECT Id FROM Account LIMIT 1');
    assert.strictEqual(r.records.length, 1);
    assert.ok(refreshed && refreshed !== accessToken, 'refresh event');
  });

  await check('revoked refresh token: invalid_grant', async () => {
    await control('tokens/expire');
    await control('refresh/revoke');
    const conn3 = new jsforce.Connection({
      oauth2: { loginUrl, clientId, clientSecret },
      instanceUrl, accessToken, refreshToken, version: '62.0',
    });
    await assert.rejects(conn3.query('SELECT Id FROM Account LIMIT 1'), (err) => /invalid_grant|expired access\/refresh token/.test(`${err.name} ${err.message}`));
    await control('refresh/restore');
  });

  if (failed > 0) {
    console.log(`${failed} check(s) failed`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.log(`not ok - harness: ${err && err.stack}`);
  process.exit(1);
});
