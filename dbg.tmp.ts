import { runScenario } from './test/reliability/scenario.js';
const s = JSON.parse(process.argv[2]);
const r = await runScenario(s);
console.log(r.violations, JSON.stringify(r.serverLog));
