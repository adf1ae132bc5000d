/**
 * Jupyter messaging protocol (5.3) types: header and the message contents hubmill
 * sends or reads. Wire fields stay snake_case, as in the spec.
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html
 */
export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
  /** iopub topic / routing identities, as received. */
  identities: Buffer[];
}

export type Channel = 'shell' | 'control' | 'iopub' | 'stdin';

export interface ExecuteRequestContent {
  code: string;
  silent: boolean;
  store_history: boolean;
  user_expressions: Record<string, string>;
  allow_stdin: boolean;
  stop_on_error: boolean;
}

export interface ExecuteReplyContent {
  status: 'ok' | 'error' | 'aborted' | 'abort';
  execution_count: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  payload?: Array<Record<string, unknown>>;
  user_expressions?: Record<string, unknown>;
}

export interface KernelInfoReplyContent {
  status: 'ok' | 'error';
  protocol_version: string;
  implementation: string;
  implementation_version?: string;
  language_info: {
    name: string;
    version?: string;
    mimetype?: string;
    file_extension?: string;
    pygments_lexer?: string;
    codemirror_mode?: string | Record<string, unknown>;
    nbconvert_exporter?: string;
    [key: string]: unknown;
  };
  banner?: string;
  [key: string]: unknown;
}

export interface StreamContent {
  name: 'stdout' | 'stderr';
  text: string;
}

export interface DisplayDataContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}

export interface ExecuteResultContent extends DisplayDataContent {
  execution_count: number;
}

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export interface StatusContent {
  execution_state: 'busy' | 'idle' | 'starting' | 'restarting' | 'dead';
}

export interface ClearOutputContent {
  wait: boolean;
}

export const isMsgType = <C>(msg: Message, type: string): msg is Message<C & Record<string, unknown>> => msg.header.msg_type === type;
