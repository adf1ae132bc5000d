/**
 * Jupyter messaging protocol (5.3) types, taken from `@jupyterlab/services`'
 * `KernelMessage` (types only: nothing of it runs here). Wire fields stay
 * snake_case, as in the spec.
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html
 */
import type { KernelMessage } from '@jupyterlab/services';

export type MessageHeader = KernelMessage.IHeader;
export type MessageType = KernelMessage.MessageType;
export type Channel = KernelMessage.Channel;

/** A message as hubmill reads it: `KernelMessage.IMessage`, with its binary buffers as Node Buffers. */
export type Message = KernelMessage.IMessage & { buffers: Buffer[] };

export type ExecuteRequestContent = KernelMessage.IExecuteRequestMsg['content'];
/** status 'ok' (with payload, user_expressions), 'error' (ename, evalue, traceback) or 'aborted'/'abort'; always execution_count. */
export type ExecuteReplyContent = KernelMessage.IExecuteReplyMsg['content'];
/** The content of an 'ok' kernel_info_reply (language_info etc.). */
export type KernelInfoReplyContent = KernelMessage.IInfoReply;
export type KernelInfoReply = KernelMessage.IInfoReplyMsg['content'];
