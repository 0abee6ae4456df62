/**
 * "Publish as dashboard": publish the file at hand with Podium, from the file browser's
 * context menu or a notebook's or editor's toolbar. The dialog starts from what the server
 * side (jupyterlab_podium) says: the framework guessed from the file, the user's hub
 * groups, and the dashboard this file already is ("Update"). The server side calls Podium
 * with the server's own token; this page never holds one.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  showDialog,
  showErrorMessage,
  ToolbarButton
} from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

const COMMAND = 'podium:publish';
const LABEL = 'Publish as dashboard';
const ENDED = ['ready', 'failed', 'stopped'];

interface IDashboard {
  name: string;
  status: string;
  message?: string;
  framework?: string;
  link: string;
  access?: { mode: string; users: string[]; groups: string[] };
  idle_timeout?: number;
}

interface IInfo {
  user: string;
  name: string;
  framework: string;
  why: string;
  frameworks: string[];
  groups: string[];
  published: IDashboard | null;
}

interface IChoice {
  name: string;
  framework: string;
  to: string[];
  idle_minutes: number | null;
}

async function call(path: string, init: RequestInit = {}): Promise<any> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'podium', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return body;
}

/** A link as browsers reach it (a path is on the hub's own origin). */
function absolute(link: string): string {
  return link.startsWith('/') ? window.location.origin + link : link;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** The dialog's form: name, framework, who may view it, idle time. */
class PublishForm extends Widget {
  constructor(info: IInfo) {
    super();
    this.addClass('jp-podium-form');
    const shown = info.published;
    this.nameInput = element('input', { value: info.name, name: 'name', required: true });
    this.nameInput.disabled = shown !== null; // an update keeps its name (its link)
    this.framework = element('select', { name: 'framework' });
    if (!(shown?.framework || info.framework)) {
      // Nothing guessed: the creator chooses (Publish says so until then).
      this.framework.append(
        element('option', { value: '', selected: true, disabled: true }, 'choose…')
      );
    }
    for (const framework of info.frameworks) {
      const chosen = (shown?.framework || info.framework) === framework;
      this.framework.append(
        element('option', { value: framework, selected: chosen }, framework)
      );
    }
    const why = info.framework
      ? `guessed: ${info.why}`
      : `not guessed (${info.why}): choose one`;
    const mode = shown?.access?.mode ?? 'private';
    this.who = element('select', { name: 'who' });
    const modes = [
      ['private', 'Only me'],
      ['restricted', 'These people and groups'],
      ['authenticated', 'Everyone on this hub']
    ];
    if (mode === 'public') {
      modes.push(['public', 'Anyone, without logging in']); // kept as it is on Update
    }
    for (const [value, text] of modes) {
      this.who.append(element('option', { value, selected: value === mode }, text));
    }
    this.users = element('input', {
      name: 'users',
      placeholder: 'usernames, separated by commas',
      value: (shown?.access?.users ?? []).join(', ')
    });
    this.groups = info.groups.map(group =>
      element('input', {
        type: 'checkbox',
        value: group,
        name: 'group',
        checked: (shown?.access?.groups ?? []).includes(group)
      })
    );
    const people = element(
      'fieldset',
      { className: 'jp-podium-people' },
      element('legend', {}, 'People and groups'),
      element('label', {}, 'Users ', this.users),
      ...this.groups.map(box =>
        element('label', { className: 'jp-podium-group' }, box, ` ${box.value}`)
      ),
      ...(info.groups.length ? [] : [element('p', {}, 'You are in no hub group.')])
    );
    const showPeople = () => {
      people.hidden = this.who.value !== 'restricted';
    };
    this.who.addEventListener('change', showPeople);
    showPeople();
    const idle = shown?.idle_timeout;
    this.idle = element('input', {
      type: 'number',
      min: '5',
      max: '1440',
      name: 'idle',
      value: idle === undefined ? '' : String(Math.round(idle / 60)),
      placeholder: "Podium's default"
    });
    this.node.append(
      element('label', {}, 'Name ', this.nameInput),
      element('label', {}, 'Framework ', this.framework),
      element('p', { className: 'jp-podium-why' }, why),
      element('label', {}, 'Who can view it ', this.who),
      people,
      element('label', {}, 'Stop after idle (minutes) ', this.idle)
    );
  }

  getValue(): IChoice {
    let to: string[] = [];
    if (this.who.value === 'authenticated') {
      to = ['all'];
    } else if (this.who.value === 'public') {
      to = ['public'];
    } else if (this.who.value === 'restricted') {
      const users = this.users.value
        .split(',')
        .map(u => u.trim())
        .filter(u => u);
      const groups = this.groups.filter(b => b.checked).map(b => `group:${b.value}`);
      to = [...users, ...groups];
    }
    const idle = this.idle.value.trim();
    return {
      name: this.nameInput.value.trim(),
      framework: this.framework.value,
      to,
      idle_minutes: idle === '' ? null : Math.max(0, Math.floor(Number(idle)))
    };
  }

  private nameInput: HTMLInputElement;
  private framework: HTMLSelectElement;
  private who: HTMLSelectElement;
  private users: HTMLInputElement;
  private groups: HTMLInputElement[];
  private idle: HTMLInputElement;
}

/** A start followed to its end, then the link with a copy button. */
class Progress extends Widget {
  constructor(dashboard: IDashboard, done: string) {
    super();
    this.addClass('jp-podium-progress');
    this.line = element('p', { className: 'jp-podium-status' });
    const link = absolute(dashboard.link);
    const anchor = element('a', { href: link, target: '_blank', rel: 'noopener' }, link);
    const copy = element('button', { className: 'jp-mod-styled jp-podium-copy' }, 'Copy link');
    copy.addEventListener('click', () => {
      Clipboard.copyToSystem(link);
      copy.textContent = 'Copied';
    });
    this.node.append(
      element('p', {}, `${done === 'updated' ? 'Updated' : 'Published'} ${dashboard.name}.`),
      this.line,
      element('p', { className: 'jp-podium-link' }, anchor, ' ', copy)
    );
    this.display(dashboard, true);
    void this.follow(dashboard.name);
  }

  private display(d: IDashboard, first = false): void {
    // Just asked to start, Podium may still say stopped: it is starting.
    const status = first && d.status === 'stopped' ? 'starting' : d.status;
    const said = d.message && status !== 'ready' ? `: ${d.message}` : '';
    this.line.textContent = `${status}${said}`;
    this.line.dataset.status = status;
  }

  private async follow(name: string): Promise<void> {
    const began = Date.now();
    while (!this.isDisposed && Date.now() - began < 600_000) {
      await new Promise(resolve => setTimeout(resolve, 1000));
      try {
        const d: IDashboard = await call(`status?name=${encodeURIComponent(name)}`);
        this.display(d);
        if (ENDED.includes(d.status)) {
          return;
        }
      } catch (e) {
        this.line.textContent = `cannot follow the start: ${(e as Error).message}`;
        return;
      }
    }
  }

  private line: HTMLParagraphElement;
}

async function publish(path: string): Promise<void> {
  let info: IInfo;
  try {
    info = await call(`info?path=${encodeURIComponent(path)}`);
  } catch (e) {
    await showErrorMessage(LABEL, (e as Error).message);
    return;
  }
  const form = new PublishForm(info);
  const update = info.published !== null;
  const answer = await showDialog({
    title: update ? `Update dashboard ${info.published!.name}` : LABEL,
    body: form,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: update ? 'Update' : 'Publish' })
    ],
    focusNodeSelector: 'input'
  });
  if (!answer.button.accept || answer.value === null) {
    return;
  }
  let result: { done: string; dashboard: IDashboard };
  try {
    result = await call('publish', {
      method: 'POST',
      body: JSON.stringify({ path, ...answer.value })
    });
  } catch (e) {
    await showErrorMessage(LABEL, (e as Error).message);
    return;
  }
  await showDialog({
    title: `Dashboard ${result.dashboard.name}`,
    body: new Progress(result.dashboard, result.done),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

class ToolbarPublish
  implements DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel>
{
  constructor(private app: JupyterFrontEnd) {}

  createNew(widget: IDocumentWidget): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-podium-publish',
      label: 'Publish',
      tooltip: LABEL,
      onClick: () => {
        void this.app.commands.execute(COMMAND, { path: widget.context.path });
      }
    });
    widget.toolbar.insertItem(10, 'podium-publish', button);
    return button;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-podium:plugin',
  description: 'Publish a notebook or app as a Podium dashboard.',
  autoStart: true,
  requires: [IFileBrowserFactory],
  activate: (app: JupyterFrontEnd, browsers: IFileBrowserFactory) => {
    app.commands.addCommand(COMMAND, {
      label: LABEL,
      caption: 'Publish this file with Podium and get a link to share',
      execute: args => {
        let path = args.path as string | undefined;
        if (!path) {
          const item = browsers.tracker.currentWidget?.selectedItems().next();
          path = item && !item.done ? item.value.path : undefined;
        }
        if (path) {
          return publish(path);
        }
      }
    });
    for (const type of ['notebook', 'python']) {
      app.contextMenu.addItem({
        command: COMMAND,
        selector: `.jp-DirListing-item[data-file-type="${type}"]`,
        rank: 20
      });
    }
    for (const factory of ['Notebook', 'Editor']) {
      app.docRegistry.addWidgetExtension(factory, new ToolbarPublish(app));
    }
  }
};

export default plugin;
