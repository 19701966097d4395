/**
 * Query side: the read models in API.md shapes. Imports only src/domain (money and types)
 * and pg; the HTTP layer maps InvalidCursor to 400 VALIDATION_ERROR and undefined to 404.
 */
export {
  CURSOR_TEXT_LENGTH_MAX,
  InvalidCursor,
} from "./cursor.js";
export {
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  type ListAccountsQuery,
  type ListPostingsQuery,
  type PageRequest,
  ReadModels,
  type ReadModelsOptions,
} from "./read-models.js";
export type {
  AccountResource,
  AccountTypeResource,
  BalanceSetResource,
  HoldResource,
  HoldStatus,
  Page,
  PostingEntryResource,
  PostingResource,
} from "./resources.js";
