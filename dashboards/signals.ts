// Dashboards import signals through here, plus display helpers shared with the alert text.
export * from '../src/signals/index.ts';
export { pct, seconds } from '../alerts/model.ts';
