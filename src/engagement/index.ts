export { findInteractionByKey, recordInteraction, toInteraction } from './interactions.store.js';
export type { Interaction, NewInteraction } from './interactions.store.js';
export { registerEngagementRoutes } from './engagement.routes.js';
export { IMPORT_KINDS } from './import-records.js';
export type { ImportKind, ImportMapping } from './import-records.js';
export { loadImportMapping } from './import-mapping.js';
export { runImport } from './import.store.js';
export type { ImportFormat, ImportOptions, ImportReject, ImportSummary } from './import.store.js';
export {
  EXPORT_COLUMNS,
  EXPORT_KINDS,
  exportRecordPages,
  exportRecords,
  exportText,
  toCsvRow,
} from './export.store.js';
export type { ExportKind, ExportRecord } from './export.store.js';
export { listTimeline } from './timeline.store.js';
export {
  foldTimelineChunks,
  inListedChunks,
  listedTimelineChunks,
  onHcpTimeline,
} from './timeline-chunks.store.js';
export type { TimelineItem, TimelineQuery } from './timeline.store.js';
export { ANALYTICS_REPORTS, runAnalyticsReport } from './analytics.store.js';
export { refreshDayCells } from './volume.store.js';
export { refreshConversationFacts } from './conversation-facts.store.js';
export { refreshMessageDays } from './message-day-cells.store.js';
export { startAnalyticsRefresher } from './analytics-refresher.worker.js';
export type { AnalyticsRefresher, AnalyticsRefresherOptions } from './analytics-refresher.worker.js';
export { startTimelineFolder } from './timeline-folder.worker.js';
export type { TimelineFolder, TimelineFolderOptions } from './timeline-folder.worker.js';
export type { AnalyticsFilters, AnalyticsReport, AnalyticsResult } from './analytics.store.js';
export { startCrmSink } from './crm-sink.worker.js';
export type { CrmSink, CrmSinkOptions } from './crm-sink.worker.js';
