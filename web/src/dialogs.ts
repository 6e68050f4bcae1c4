import { addTarget, removeTarget } from './api.js';

/** Shows an API error inside the dialog; text only. */
function showError(form: HTMLFormElement, message: string | null): void {
  const el = form.querySelector<HTMLElement>('.error')!;
  el.textContent = message ?? '';
  el.hidden = message === null;
}

/** Runs `action` with the form's buttons disabled; closes the dialog when it succeeds. */
async function submit(dialog: HTMLDialogElement, form: HTMLFormElement, action: () => Promise<string | null>): Promise<boolean> {
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute('aria-busy', 'true');
  try {
    const error = await action();
    showError(form, error);
    if (error === null) dialog.close();
    return error === null;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute('aria-busy');
  }
}

function wireCancel(dialog: HTMLDialogElement): void {
  dialog.querySelector('[data-close]')!.addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the form) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
}

/** The "Add target" dialog; `added` runs with the URL once the API accepted it. */
export function setupAddDialog(opener: HTMLElement, added: (url: string) => void): () => void {
  const dialog = document.getElementById('add-dialog') as HTMLDialogElement;
  const form = document.getElementById('add-form') as HTMLFormElement;
  const urlInput = document.getElementById('add-url') as HTMLInputElement;
  const dataInput = document.getElementById('add-data') as HTMLTextAreaElement;
  wireCancel(dialog);
  const open = () => {
    form.reset();
    showError(form, null);
    dialog.showModal();
    urlInput.focus();
  };
  opener.addEventListener('click', open);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const url = urlInput.value.trim();
    if (url === '') {
      showError(form, 'Enter the URL to check.');
      urlInput.focus();
      return;
    }
    let kept = url;
    const add = async () => {
      const answer = await addTarget(url, dataInput.value);
      if ('error' in answer) return answer.error;
      kept = answer.url; // the card carries the canonical URL, not the spelling typed
      return null;
    };
    void submit(dialog, form, add).then((ok) => {
      if (ok) added(kept);
    });
  });
  return open;
}

/** The "Remove" confirmation; returns the function that opens it for one URL. */
export function setupRemoveDialog(): (url: string, returnFocus: HTMLElement | null) => void {
  const dialog = document.getElementById('remove-dialog') as HTMLDialogElement;
  const form = document.getElementById('remove-form') as HTMLFormElement;
  const urlText = document.getElementById('remove-url')!;
  let url = '';
  let returnFocus: HTMLElement | null = null;
  wireCancel(dialog);
  dialog.addEventListener('close', () => {
    if (returnFocus?.isConnected) returnFocus.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(dialog, form, () => removeTarget(url));
  });
  return (target, focusAfter) => {
    url = target;
    returnFocus = focusAfter;
    urlText.textContent = target;
    showError(form, null);
    dialog.showModal();
    form.querySelector<HTMLButtonElement>('button[type=submit]')!.focus();
  };
}
