// ErrorBoundary.jsx: a part of a screen that failed to render (or to load:
// a lazily loaded chunk gone after a new deploy) shows a way out instead of
// blanking the whole app.
import { Component } from 'react';

export class ErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }

  static getDerivedStateFromError(error) {
    return { error };
  }

  componentDidCatch(error) {
    console.error('a screen failed:', error);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="space-y-3 rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-900">
        <p className="font-semibold">{this.props.what ? `${this.props.what} could not be shown.` : 'Something went wrong.'}</p>
        <p>The app may have been updated meanwhile. Reloading the page usually fixes it.</p>
        <button type="button" className="btn-secondary" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
